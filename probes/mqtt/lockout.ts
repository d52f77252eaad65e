import { lockoutProbe } from '../../src/protocols/auth/checks/lockout';

export default lockoutProbe('mqtt');
