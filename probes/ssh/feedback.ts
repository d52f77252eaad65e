import { feedbackProbe } from '../../src/protocols/auth/checks/feedback';

export default feedbackProbe('ssh');
