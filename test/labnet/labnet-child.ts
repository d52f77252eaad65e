/**
 * Test fixture (not a test): builds a labnet with one device from the posture file given as argv[2],
 * prints its description as one JSON line, then either waits to be signalled or killed (argv[3] "wait")
 * or calls process.exit() with the labnet still up ("exit"). The labnet test uses it to show what SIGKILL
 * leaves behind (and the sweeper removes) and what SIGTERM and process.exit() remove by themselves.
 */
import { createLabnet } from '../../src/labnet/netns';

createLabnet({ topology: 'root', devices: [{ posture: process.argv[2] }] }).then((labnet) => {
  process.stdout.write(`${JSON.stringify({ owned: labnet.owned, devices: labnet.devices })}\n`, () => {
    if (process.argv[3] === 'exit') process.exit(0);
  });
  setInterval(() => undefined, 60_000);
}, (err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
