import { feedbackProbe } from '../_auth/feedback';

export default feedbackProbe('http');
