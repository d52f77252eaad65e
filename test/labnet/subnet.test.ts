import { expect } from 'chai';
import {
  LABNET_POOL, contains, formatCidr, formatIpv4, host, overlaps, parseCidr, parseIpv4, subnetAt, subnetCount,
} from '../../src/labnet/subnet';

describe('labnet: subnet arithmetic', () => {
  it('parses and formats IPv4 addresses and rejects what is not one', () => {
    expect(formatIpv4(parseIpv4('198.19.255.254'))).to.equal('198.19.255.254');
    expect(parseIpv4('0.0.0.1')).to.equal(1);
    expect(parseIpv4('255.255.255.255')).to.equal(0xffffffff);
    for (const bad of ['198.18.0', '198.18.0.256', '1.2.3.4.5', 'a.b.c.d', '::1', '1.2.3.-4']) {
      expect(() => parseIpv4(bad), bad).to.throw(/not an IPv4 address/);
    }
  });

  it('parses CIDRs, refusing host bits unless asked to be loose', () => {
    expect(formatCidr(parseCidr('198.18.5.0/24'))).to.equal('198.18.5.0/24');
    expect(() => parseCidr('198.18.5.1/24')).to.throw(/host bits are set.*198\.18\.5\.0\/24/);
    expect(formatCidr(parseCidr('198.18.5.1/24', true))).to.equal('198.18.5.0/24');
    expect(formatCidr(parseCidr('192.0.2.7'))).to.equal('192.0.2.7/32');
    expect(formatCidr(parseCidr('0.0.0.0/0'))).to.equal('0.0.0.0/0');
    for (const bad of ['10.0.0.0/33', '10.0.0.0/x', '10.0.0.0/8/8', '10.0.0.0/']) expect(() => parseCidr(bad), bad).to.throw();
  });

  it('tells containment and overlap', () => {
    const pool = parseCidr(LABNET_POOL);
    const lab = parseCidr('198.19.3.0/24');
    expect(overlaps(pool, lab)).to.equal(true);
    expect(overlaps(lab, pool)).to.equal(true);
    expect(overlaps(lab, parseCidr('198.19.4.0/24'))).to.equal(false);
    expect(overlaps(lab, parseCidr('198.19.3.255/32'))).to.equal(true);
    expect(overlaps(parseCidr('0.0.0.0/0'), lab)).to.equal(true);
    expect(contains(lab, parseIpv4('198.19.3.200'))).to.equal(true);
    expect(contains(lab, parseIpv4('198.19.4.0'))).to.equal(false);
  });

  it('numbers hosts and carves subnets out of the pool', () => {
    const lab = parseCidr('198.18.9.0/24');
    expect(formatIpv4(host(lab, 1))).to.equal('198.18.9.1');
    expect(formatIpv4(host(lab, 254))).to.equal('198.18.9.254');
    expect(() => host(lab, 255)).to.throw(/no host number 255/);
    expect(() => host(lab, 0)).to.throw();
    const pool = parseCidr(LABNET_POOL);
    expect(subnetCount(pool, 24)).to.equal(512);
    expect(formatCidr(subnetAt(pool, 24, 0))).to.equal('198.18.0.0/24');
    expect(formatCidr(subnetAt(pool, 24, 511))).to.equal('198.19.255.0/24');
    expect(formatCidr(subnetAt(pool, 24, 512))).to.equal('198.18.0.0/24');
    expect(formatCidr(subnetAt(pool, 24, -1))).to.equal('198.19.255.0/24');
    expect(() => subnetAt(pool, 14, 0)).to.throw(/does not fit/);
  });
});
