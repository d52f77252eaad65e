import { sessionsProbe } from '../../src/protocols/auth/checks/sessions';

export default sessionsProbe('ssh');
