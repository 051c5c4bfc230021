#!/usr/bin/env node
// An independent reference evaluation of the contract's twelve default rules, for
// checking a published scores.csv on generated data of any size:
//
//   node bench/verify-reference.mjs EXTRACTS_DIR SCORES_CSV AS_OF
//
// It shares no code with churnwatch: csv-parse reads the files, money is summed in
// integer fen, minutes in hundredths, and every ratio is cross-multiplied. It prints
// the hits per rule on both sides and exits 1 on any subscriber-level difference.
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

const [dir, scoresPath, asOfText] = process.argv.slice(2);
if (!dir || !scoresPath || !asOfText) {
  console.error('usage: node bench/verify-reference.mjs EXTRACTS_DIR SCORES_CSV AS_OF');
  process.exit(64);
}

const RULES = [
  'arpu_drop_mom',
  'arpu_decline_3m',
  'silence_3d',
  'complaints_repeat',
  'contract_expiring',
  'contract_lapsed',
  'arrears_suspended',
  'number_hold',
  'forwarding_3d',
  'hotline_calls',
  'mou_drop',
  'low_balance',
];

const dayNo = (s) => {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})/.exec(s.replaceAll('/', '-'));
  return m ? Math.round(Date.UTC(+m[1], +m[2] - 1, +m[3]) / 86400000) : NaN;
};
const monthNo = (s) => {
  const m = /^(\d{4})-?(\d{2})$/.exec(s);
  return m ? +m[1] * 12 + +m[2] - 1 : NaN;
};
/** "12.34" → 1234 exactly, without floating point. */
const hundredths = (s) => {
  const m = /^(-?)(\d*)(?:\.(\d{1,2}))?$/.exec(s.trim());
  if (!m) return NaN;
  const v = Number(m[2] || '0') * 100 + Number((m[3] ?? '').padEnd(2, '0') || '0');
  return m[1] ? -v : v;
};

async function rows(file, onRow) {
  const parser = createReadStream(`${dir}/${file}`).pipe(parse({ columns: true, bom: true }));
  for await (const r of parser) onRow(r);
}

const D = dayNo(asOfText);
const Dm = monthNo(asOfText.slice(0, 7));
const subs = new Map();
await rows('subscribers.csv', (r) => {
  if (subs.has(r.subscriber_id)) return;
  subs.set(r.subscriber_id, {
    status: r.status,
    activation: r.activation_date ? dayNo(r.activation_date) : null,
    balance: r.prepaid_balance === '' ? null : hundredths(r.prepaid_balance),
    bills: new Map(),
    days: new Map(),
    complaints: 0,
    faults: 0,
    contracts: [],
  });
});
const months = new Set();
await rows('billing_monthly.csv', (r) => {
  const s = subs.get(r.subscriber_id);
  const m = monthNo(r.bill_month);
  if (!s || Number.isNaN(m)) return;
  months.add(m);
  const b = s.bills.get(m) ?? { amt: 0, mou: 0, hot: 0 };
  b.amt += hundredths(r.amount);
  b.mou += hundredths(r.mou || '0');
  b.hot += Number(r.hotline_calls || 0);
  s.bills.set(m, b);
});
await rows('usage_daily.csv', (r) => {
  const s = subs.get(r.subscriber_id);
  const d = dayNo(r.usage_date);
  if (!s || !(d >= D - 3 && d <= D - 1)) return;
  const u = s.days.get(D - d) ?? { act: 0, fwd: 0 };
  u.act += hundredths(r.calls) + hundredths(r.sms || '0') + hundredths(r.data_mb || '0');
  u.fwd += hundredths(r.forwarded_calls || '0');
  s.days.set(D - d, u);
});
await rows('tickets.csv', (r) => {
  const s = subs.get(r.subscriber_id);
  const d = dayNo(r.created_at);
  if (!s || !(d >= D - 90 && d <= D - 1)) return;
  if (r.kind === 'complaint') s.complaints++;
  if (r.kind === 'fault') s.faults++;
});
await rows('contracts.csv', (r) => {
  const s = subs.get(r.subscriber_id);
  if (!s) return;
  s.contracts.push({ kind: r.kind ?? '', end: dayNo(r.end_date), renewed: r.renewed === '1' || r.renewed === 'true' });
});

const M0 = Math.max(...[...months].filter((m) => m < Dm));
const expected = new Map();
for (const [id, s] of subs) {
  const amt = (k) => s.bills.get(M0 - k)?.amt ?? 0;
  const mou = (k) => s.bills.get(M0 - k)?.mou ?? 0;
  const act = (k) => s.days.get(k)?.act ?? 0;
  const fwd = (k) => s.days.get(k)?.fwd ?? 0;
  const active = s.status === 'active';
  const f = {
    arpu_drop_mom: amt(1) >= 1000 && amt(0) * 100 <= 70 * amt(1),
    arpu_decline_3m: amt(3) >= 1000 && amt(3) > amt(2) && amt(2) > amt(1) && amt(1) > amt(0) && amt(0) * 100 <= 80 * amt(3),
    silence_3d: active && act(1) === 0 && act(2) === 0 && act(3) === 0 && (s.activation === null || s.activation <= D - 3),
    complaints_repeat: s.complaints >= 2 || s.faults >= 3,
    contract_expiring: s.contracts.some((c) => !c.renewed && c.end >= D && c.end <= D + 30),
    contract_lapsed: s.contracts.some(
      (c) => !c.renewed && c.end >= D - 30 && c.end <= D - 1 && !s.contracts.some((o) => o.kind === c.kind && o.end >= D),
    ),
    arrears_suspended: s.status === 'suspended_arrears',
    number_hold: s.status === 'suspended_hold',
    forwarding_3d: fwd(1) > 0 && fwd(2) > 0 && fwd(3) > 0,
    hotline_calls: (s.bills.get(M0)?.hot ?? 0) >= 5,
    mou_drop: mou(1) >= 6000 && mou(0) * 100 <= 50 * mou(1),
    low_balance: active && s.balance !== null && s.balance < 1000,
  };
  if (s.status === 'closed') for (const r of RULES) f[r] = false;
  expected.set(id, f);
}

const hitsRef = Object.fromEntries(RULES.map((r) => [r, 0]));
const hitsRun = Object.fromEntries(RULES.map((r) => [r, 0]));
let mismatches = 0,
  seen = 0;
for await (const r of createReadStream(scoresPath).pipe(parse({ columns: true }))) {
  seen++;
  const e = expected.get(r.subscriber_id);
  for (const rule of RULES) {
    const got = r[rule] === '1';
    if (got) hitsRun[rule]++;
    if (e?.[rule]) hitsRef[rule]++;
    if (!e || got !== e[rule]) {
      if (mismatches < 10) console.error(`mismatch: subscriber #${seen} rule ${rule}: run ${got ? 1 : 0}, reference ${e?.[rule] ? 1 : 0}`);
      mismatches++;
    }
  }
}
console.log(
  JSON.stringify(
    {
      subscribers: subs.size,
      scored: seen,
      M0: `${Math.floor(M0 / 12)}-${String((M0 % 12) + 1).padStart(2, '0')}`,
      hits_reference: hitsRef,
      hits_run: hitsRun,
      mismatches,
    },
    null,
    1,
  ),
);
process.exit(mismatches === 0 && seen === subs.size ? 0 : 1);
