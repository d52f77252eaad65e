import { sessionsProbe } from '../_auth/sessions';

export default sessionsProbe('ssh');
