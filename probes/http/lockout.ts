import { lockoutProbe } from '../_auth/lockout';

export default lockoutProbe('http');
