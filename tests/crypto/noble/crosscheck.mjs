// Cross-check of Shoal's ML-KEM-768 and X-Wing against @noble/post-quantum (an independent
// implementation, pinned in package.json / package-lock.json), from fixed seeds, both ways.
// Usage: node crosscheck.mjs PATH/TO/kem-tool [CASES]   (meson runs it as crypto/noble-crosscheck)
// Per ML-KEM case: both derive the same ek and dk from one seed; Shoal encapsulates and noble
// decapsulates; noble encapsulates and Shoal decapsulates; a changed ciphertext gives the same
// implicit-rejection key on both. Per X-Wing case: the same three directions.
// Exit 0 when every case agrees; 77 (skipped) when node_modules is missing outside CI.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'node_modules', '@noble', 'post-quantum'))) {
  const msg = `crosscheck: ${here}/node_modules is missing; run (cd ${here} && npm ci)`;
  if (process.env.CI) {
    console.error(msg);
    process.exit(1);
  }
  console.log(`${msg}; skipping`);
  process.exit(77);
}
const { ml_kem768 } = await import('@noble/post-quantum/ml-kem.js');
const { ml_kem768_x25519: xwing } = await import('@noble/post-quantum/hybrid.js');
const { shake256 } = await import('@noble/hashes/sha3.js');

const tool = process.argv[2];
const cases = Number(process.argv[3] ?? 1000);
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
// Fixed inputs: SHAKE256 of a case number, split into the seeds one case needs.
const material = (i) => shake256(new TextEncoder().encode(`shoal kem crosscheck ${i}`), { dkLen: 320 });

const requests = [];
const expect = [];
for (let i = 0; i < cases; i++) {
  const r = material(i);
  const seed = r.slice(0, 64), m1 = r.slice(64, 96), m2 = r.slice(96, 128);
  const xseed = r.slice(128, 160), xe1 = r.slice(160, 224), xe2 = r.slice(224, 288);
  const { publicKey: ek, secretKey: dk } = ml_kem768.keygen(seed);
  const fromNoble = ml_kem768.encapsulate(ek, m2);
  const changed = fromNoble.cipherText.slice();
  changed[i % changed.length] ^= 1 << (i % 8);
  const x = xwing.keygen(xseed);
  const xFromNoble = xwing.encapsulate(x.publicKey, xe2);
  requests.push(`mk ${hex(seed)}`, `me ${hex(ek)} ${hex(m1)}`,
    `md ${hex(dk)} ${hex(fromNoble.cipherText)}`, `md ${hex(dk)} ${hex(changed)}`,
    `xk ${hex(xseed)}`, `xe ${hex(x.publicKey)} ${hex(xe1)}`,
    `xd ${hex(xseed)} ${hex(xFromNoble.cipherText)}`);
  expect.push({ ek, dk, m1, fromNoble, changed, x, xe1, xFromNoble });
}

const run = spawnSync(tool, [], { input: requests.join('\n') + '\n', maxBuffer: 1 << 30 });
if (run.status !== 0) {
  console.error(`crosscheck: ${tool} exited with ${run.status}: ${run.stderr}`);
  process.exit(1);
}
const lines = run.stdout.toString().trimEnd().split('\n');
if (lines.length !== requests.length) {
  console.error(`crosscheck: ${lines.length} answers to ${requests.length} requests`);
  process.exit(1);
}

let failures = 0, mlkemCases = 0, xwingCases = 0;
const check = (ok, i, what) => {
  if (!ok && failures++ < 10) console.error(`crosscheck: case ${i}: ${what}`);
  return ok;
};
for (let i = 0; i < cases; i++) {
  const e = expect[i];
  const [mk, me, md, mdChanged, xk, xe, xd] = lines.slice(7 * i, 7 * i + 7).map((l) => l.split(' '));
  let ok = check(mk[0] === hex(e.ek) && mk[1] === hex(e.dk), i, 'ML-KEM keys differ');
  // Shoal encapsulates, noble decapsulates (and noble's own Encaps_internal agrees).
  ok = check(me.length === 2 && hex(ml_kem768.decapsulate(unhex(me[0]), e.dk)) === me[1], i,
    'noble decapsulation of Shoal\'s ciphertext differs') && ok;
  ok = check(me[0] === hex(ml_kem768.encapsulate(e.ek, e.m1).cipherText), i,
    'Shoal and noble ciphertexts differ') && ok;
  // noble encapsulates, Shoal decapsulates; both reject a changed ciphertext alike.
  ok = check(md[0] === hex(e.fromNoble.sharedSecret), i, 'Shoal decapsulation differs') && ok;
  ok = check(mdChanged[0] === hex(ml_kem768.decapsulate(e.changed, e.dk)) &&
    mdChanged[0] !== md[0], i, 'implicit rejection differs') && ok;
  if (ok) mlkemCases++;
  ok = check(xk[0] === hex(e.x.publicKey), i, 'X-Wing keys differ');
  ok = check(xe.length === 2 && hex(xwing.decapsulate(unhex(xe[0]), e.x.secretKey)) === xe[1], i,
    'noble X-Wing decapsulation of Shoal\'s ciphertext differs') && ok;
  ok = check(xd[0] === hex(e.xFromNoble.sharedSecret), i, 'Shoal X-Wing decapsulation differs') && ok;
  if (ok) xwingCases++;
}
console.log(`crosscheck: ML-KEM-768 ${mlkemCases}/${cases} cases agree (keygen, Shoal encaps -> ` +
  `noble decaps, noble encaps -> Shoal decaps, implicit rejection); X-Wing ${xwingCases}/${cases}`);
if (failures > 0 || mlkemCases !== cases || xwingCases !== cases || cases < 1000) {
  console.error(`crosscheck: ${failures} mismatches (at least 1000 cases are required)`);
  process.exit(1);
}
