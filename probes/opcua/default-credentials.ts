import { defaultCredentialsProbe } from '../_auth/default-credentials';

export default defaultCredentialsProbe('opcua');
