import { defaultCredentialsProbe } from '../_auth/default-credentials';

export default defaultCredentialsProbe('http');
