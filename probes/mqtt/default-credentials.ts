import { defaultCredentialsProbe } from '../../src/protocols/auth/checks/default-credentials';

export default defaultCredentialsProbe('mqtt');
