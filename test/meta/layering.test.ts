import { expect } from 'chai';
import { ESLint } from 'eslint';

// The layering lint (eslint.config.mjs, rule iacs/layers) as ESLint's RuleTester would check it: files that
// would sit in a layer, importing what the architecture forbids (invalid) and allows (valid).

const linter = new ESLint();

async function layerErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await linter.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'iacs/layers').map((m) => m.message);
}

describe('meta: the layering lint catches every arrow the architecture forbids', function () {
  this.timeout(60_000);

  const invalid: [string, string, RegExp][] = [
    ['src/report/x.ts', "import { runAssessment } from '../runner/run';", /src\/report may not import src\/runner/],
    ['src/report/sub/x.ts', "export * from '../../cli/main';", /src\/report may not import src\/cli/],
    ['src/report/x.ts', "import { x } from '../protocols/tcp';", /src\/report may not import src\/protocols/],
    ['src/protocols/x.ts', "import type { Profile } from '../profile';", /src\/protocols may not import src\/profile/],
    ['src/protocols/opcua/x.ts', "import { runAssessment } from '../../runner/run';", /src\/protocols may not import src\/runner/],
    ['src/sdk/x.ts', "import { packagePath } from '../paths';", /src\/sdk may not import src\/paths/],
    ['src/assess/x.ts', "import { connectScan } from '../protocols/tcp';", /src\/assess may not import src\/protocols/],
    ['src/runner/x.ts', "import { startEmulator } from '../emulator';", /src\/runner may not import src\/emulator/],
    ['src/runner/x.ts', "const cli = require('../cli/main');", /src\/runner may not import src\/cli/],
    ['src/emulator/x.ts', "const m = await import('../runner/run');", /src\/emulator may not import src\/runner/],
    ['src/labnet/x.ts', "import { runAssessment } from '../runner/run';", /src\/labnet may not import src\/runner/],
    ['src/runner/x.ts', "const netns = await import('../labnet/netns');", /src\/runner may not import src\/labnet/],
    ['probes/x/y.ts', "import { runAssessment } from '../../src/runner/run';", /probes may not import src\/runner/],
    ['probes/x/y.ts', "import { OPCUAClient } from 'node-opcua';", /probes may not import the protocol library node-opcua/],
    ['src/report/x.ts', "import { Client } from 'ssh2';", /src\/report may not import the protocol library ssh2/],
    ['src/runner/x.ts', "import { OPCUAClient } from 'node-opcua-client';", /src\/runner may not import the protocol library node-opcua-client/],
  ];
  for (const [file, code, expected] of invalid) {
    it(`rejects ${file}: ${code}`, async () => {
      const errors = await layerErrors(file, code);
      expect(errors, JSON.stringify(errors)).to.have.length(1);
      expect(errors[0]).to.match(expected);
    });
  }

  const valid: [string, string][] = [
    ['src/report/x.ts', "import type { Finding } from '../sdk';"],
    ['src/report/sub/x.ts', "import { renderHtml } from '../html';"],
    ['src/protocols/opcua/x.ts', "import { packagePath } from '../../paths';"],
    ['src/runner/x.ts', "import { assess } from '../assess';"],
    ['src/cli/x.ts', "import { startEmulator } from '../emulator';"],
    ['src/cli/x.ts', "const { createLabnet } = await import('../labnet/netns');"],
    ['src/labnet/x.ts', "import { startEmulator } from '../emulator';"],
    ['src/emulator/x.ts', "import { OPCUAServer } from 'node-opcua';"],
    ['probes/x/y.ts', "import { defineProbe } from '../../src/sdk';"],
    ['probes/x/y.ts', "import { connectScan } from '../../src/protocols/tcp';"],
    ['test/x.test.ts', "import { runAssessment } from '../src/runner/run';"],
  ];
  for (const [file, code] of valid) {
    it(`accepts ${file}: ${code}`, async () => {
      expect(await layerErrors(file, code)).to.deep.equal([]);
    });
  }
});
