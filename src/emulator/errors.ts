import { InputRejected } from '../sdk';

/** A posture (or one of its service sections) the emulator cannot run as written. */
export class PostureError extends InputRejected {}
