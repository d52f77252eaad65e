import { expect } from 'chai';
import probe, { entropyBound, predictability } from '../../../probes/http/cookies';
import { MapLedger } from '../../../src/runner/attempt';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';
import { useWebPostures } from '../../helpers/web';
import { accountKey } from '../../../src/protocols/auth/ledger';

const FAST = { requestTimeoutMs: 2000 };
const codes = (findings: readonly { code: string; severity: string }[]) => findings.map((f) => `${f.code}:${f.severity}`);
const WEAK_ADMIN = { username: 'admin', password: 'admin' };
const HARDENED_OPERATOR = { username: 'operator', password: 'Op3rator!Bench-2026' };

describe('probe http.cookies', () => {
  const devices = useWebPostures();

  it('weak posture without credentials: the pre-login session cookie has no flags and counts up: fail CR 3.8', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('https').port, protocol: 'https' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt.findings)).to.deep.equal([
      'http.cookies.no-secure:medium', 'http.cookies.no-httponly:low', 'http.cookies.no-samesite:low', 'http.cookies.session-id-short:medium', 'http.cookies.session-id-predictable:high',
    ]);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['CR 3.8:fail:partial']);
    expect(attempt.observations.cookies).to.deep.equal([{
      name: 'session', session: true, why: 'named like a session cookie', setBy: 'login-page', secure: false, httpOnly: false, sameSite: null,
      path: '/', persistent: false, valueLength: 4, alphabet: 'decimal', bitsAtMost: 13,
    }]);
    expect(attempt.observations.login).to.deep.equal({ tried: false, reason: 'no credentials.http in the profile' });
  });

  it('weak posture with credentials: the login keeps the pre-login id (session fixation); cookie values never reach the evidence', async () => {
    const { attempt, read } = await runProbe(probe, { service: { port: devices.weak().endpoint('https').port, protocol: 'https' }, inputs: FAST, credentials: { http: WEAK_ADMIN } });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.include('http.cookies.session-fixation');
    expect(attempt.observations.login).to.include({ tried: true, accepted: true, loggedOut: '/logout' });
    const transcript = read(attempt.evidence.find((e) => e.endsWith('exchanges.ndjson'))!);
    expect(transcript).to.match(/session=<4 chars, sha256 [0-9a-f]{12}>/);
    expect(transcript).to.not.match(/session=\d{4}\b/).and.not.match(/password=/);
  });

  it('weak posture, plain HTTP: a session cookie over cleartext', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.weak().endpoint('http').port, protocol: 'http' }, inputs: FAST });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt.findings)).to.include('http.cookies.session-cleartext:high').and.not.include('http.cookies.no-secure:medium');
  });

  it('hardened posture without credentials: no cookie before login, so nothing to judge (not applicable, with the reason)', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'https' }, inputs: FAST });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.observations.note).to.match(/give credentials\.http/);
  });

  it('hardened posture with credentials at SL 3: a new 192-bit Secure, HttpOnly, SameSite=Strict cookie at login: pass', async () => {
    const { attempt } = await runProbe(probe, { service: { port: devices.hardened().endpoint('https').port, protocol: 'https' }, inputs: FAST, credentials: { http: HARDENED_OPERATOR }, sl: 3 });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.observations.cookies).to.deep.equal([{
      name: 'session', session: true, why: 'set by the login', setBy: 'login', secure: true, httpOnly: true, sameSite: 'Strict', path: '/',
      persistent: false, valueLength: 48, alphabet: 'hex', bitsAtMost: 192,
    }]);
    expect(attempt.observations.login).to.include({ accepted: true, loggedOut: '/logout' });
  });

  it('a wrong password ends as an auth error and is counted in the run ledger', async () => {
    const ledger = new MapLedger();
    const { attempt } = await runProbe(probe, {
      service: { port: devices.weak().endpoint('https').port, protocol: 'https' }, inputs: FAST, credentials: { http: { username: 'admin', password: 'not-it' } }, ledger,
    });
    expect(attempt, attempt.message).to.include({ status: 'error', reason: 'auth' });
    expect(ledger.get(accountKey('127.0.0.1', 'admin'))).to.equal(1);
    // With the documented threshold this close, the next run of the probe does not try at all.
    const again = await runProbe(probe, {
      service: { port: devices.weak().endpoint('https').port, protocol: 'https' }, inputs: FAST, credentials: { http: { username: 'admin', password: 'not-it' } }, ledger,
      policy: { lockout: { threshold: 2 } },
    });
    expect((again.attempt.observations.login as { reason: string }).reason).to.match(/1 failed logins already counted/);
  });

  it('entropy bound and predictability', () => {
    expect(entropyBound('1001')).to.deep.equal({ alphabet: 'decimal', bits: 13 });
    expect(entropyBound('0123456789abcdef')).to.deep.equal({ alphabet: 'hex', bits: 64 });
    expect(entropyBound('AbC_-9')).to.deep.equal({ alphabet: 'digits+lower+upper+-_', bits: 36 });
    expect(predictability(['1001', '1002', '1004'])).to.match(/small step/);
    expect(predictability(['abc', 'abc'])).to.match(/same id/);
    expect(predictability(['9f1c', '03aa'])).to.equal(undefined);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'https' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 1000 } });
});
