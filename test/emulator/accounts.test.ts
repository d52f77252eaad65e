import { expect } from 'chai';
import { AccountStore } from '../../src/emulator/accounts';

describe('emulator account store', () => {
  const accounts = [{ username: 'op', password: 'right' }];

  it('without lockout, failures never lock', () => {
    const store = new AccountStore(accounts, null);
    for (let i = 0; i < 20; i++) expect(store.login('op', 'wrong', '10.0.0.1')).to.equal('denied');
    expect(store.login('op', 'right', '10.0.0.1')).to.equal('ok');
  });

  it('locks after the threshold and refuses the right password while locked, then releases', () => {
    let now = 1_000_000;
    const store = new AccountStore(accounts, { threshold: 3, durationSeconds: 10 }, () => now);
    for (let i = 0; i < 3; i++) expect(store.login('op', 'wrong', 'a')).to.equal('denied');
    expect(store.login('op', 'right', 'a')).to.equal('locked');
    expect(store.isLocked('op', 'a')).to.equal(true);
    now += 10_001;
    expect(store.login('op', 'right', 'a')).to.equal('ok');
  });

  it('a success resets the failure count', () => {
    const store = new AccountStore(accounts, { threshold: 3, durationSeconds: 10 });
    store.login('op', 'wrong', 'a');
    store.login('op', 'wrong', 'a');
    expect(store.login('op', 'right', 'a')).to.equal('ok');
    store.login('op', 'wrong', 'a');
    store.login('op', 'wrong', 'a');
    expect(store.login('op', 'right', 'a')).to.equal('ok');
  });

  it('per-source lockout locks the source, not the account elsewhere', () => {
    const store = new AccountStore(accounts, { threshold: 2, durationSeconds: 10, scope: 'source' });
    store.login('op', 'wrong', 'a');
    store.login('op', 'wrong', 'a');
    expect(store.login('op', 'right', 'a')).to.equal('locked');
    expect(store.login('op', 'right', 'b')).to.equal('ok');
  });
});
