/**
 * subscribers.csv → the subscriber table: one index per subscriber, enum and date
 * attributes in typed arrays, text attributes (needed only for task rows) as strings.
 */
import { MEMBER_LEVELS, STATUS_VALUES } from '../rules/catalogue.js';
import { ENUM_MISSING } from '../rules/compile.js';
import { fieldIsEmpty, fieldString, parseDayField, parseScaled, type RecordView } from './csv-scan.js';
import { type InputOptions } from './layout.js';
import { RejectLog } from './rejects.js';
import { readTable, type FileStats } from './table-reader.js';

export interface SubscriberTable {
  n: number;
  ids: string[];
  index: Map<string, number>;
  msisdn: string[];
  name: string[];
  region: string[];
  managerId: string[];
  planId: string[];
  status: Uint8Array;
  memberLevel: Uint8Array;
  /** Yuan; NaN where not given. */
  prepaidBalance: Float64Array;
  /** Day numbers; NaN where not given. */
  activationDate: Float64Array;
  statusSince: Float64Array;
}

const PHONE = /^\+?\d{5,20}$/;

function enumCode(values: readonly string[], s: string): number {
  return values.indexOf(s.trim().toLowerCase());
}

function growF64(a: Float64Array, size: number): Float64Array {
  const b = new Float64Array(size); b.set(a); return b;
}
function growU8(a: Uint8Array, size: number): Uint8Array {
  const b = new Uint8Array(size); b.set(a); return b;
}

export async function readSubscribers(path: string, file: string, input: InputOptions, rejects: RejectLog): Promise<{ table: SubscriberTable; stats: FileStats }> {
  let cap = 1024;
  let status: Uint8Array = new Uint8Array(cap), memberLevel: Uint8Array = new Uint8Array(cap);
  let prepaid: Float64Array = new Float64Array(cap), activation: Float64Array = new Float64Array(cap), since: Float64Array = new Float64Array(cap);
  const ids: string[] = [], msisdn: string[] = [], name: string[] = [], region: string[] = [], managerId: string[] = [], planId: string[] = [];
  const index = new Map<string, number>();

  const stats = await readTable(path, file, 'subscribers', input, rejects, (c) => {
    const text = (rec: RecordView, col: string) => (c[col]! >= 0 ? fieldString(rec, c[col]!).trim() : '');
    return (rec, reject) => {
      const id = text(rec, 'subscriber_id');
      if (id === '') return reject('subscriber_id', 'CW_ROW_EMPTY_FIELD', 'subscriber_id is empty', '');
      if (index.has(id)) return reject('subscriber_id', 'CW_ROW_DUPLICATE_SUBSCRIBER', 'subscriber_id appears earlier in the file; the first row is kept', id);
      const phone = text(rec, 'msisdn');
      if (!PHONE.test(phone)) return reject('msisdn', phone === '' ? 'CW_ROW_EMPTY_FIELD' : 'CW_ROW_BAD_PHONE', phone === '' ? 'msisdn is empty' : 'msisdn is not a phone number (digits, optional leading +)', phone);
      const st = enumCode(STATUS_VALUES, text(rec, 'status'));
      if (st < 0) return reject('status', 'CW_ROW_BAD_ENUM', `status must be one of ${STATUS_VALUES.join(', ')}`, text(rec, 'status'));
      let ml = ENUM_MISSING;
      const mlText = text(rec, 'member_level');
      if (mlText !== '') {
        ml = enumCode(MEMBER_LEVELS, mlText);
        if (ml < 0) return reject('member_level', 'CW_ROW_BAD_ENUM', `member_level must be one of ${MEMBER_LEVELS.join(', ')} or empty`, mlText);
      }
      let balance = NaN;
      if (c.prepaid_balance! >= 0 && !fieldIsEmpty(rec, c.prepaid_balance!)) {
        const fen = parseScaled(rec, c.prepaid_balance!, 2, input.thousands);
        if (Number.isNaN(fen)) return reject('prepaid_balance', 'CW_ROW_BAD_NUMBER', 'prepaid_balance is not an amount with at most 2 decimals', text(rec, 'prepaid_balance'));
        balance = fen / 100;
      }
      const dates: number[] = [];
      for (const col of ['activation_date', 'status_since']) {
        let d = NaN;
        if (c[col]! >= 0 && !fieldIsEmpty(rec, c[col]!)) {
          d = parseDayField(rec, c[col]!);
          if (Number.isNaN(d)) return reject(col, 'CW_ROW_BAD_DATE', `${col} is not a date (YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD)`, text(rec, col));
        }
        dates.push(d);
      }
      const i = ids.length;
      if (i === cap) {
        cap *= 2;
        status = growU8(status, cap); memberLevel = growU8(memberLevel, cap);
        prepaid = growF64(prepaid, cap); activation = growF64(activation, cap); since = growF64(since, cap);
      }
      index.set(id, i);
      ids.push(id); msisdn.push(phone);
      name.push(text(rec, 'name')); region.push(text(rec, 'region'));
      managerId.push(text(rec, 'manager_id')); planId.push(text(rec, 'plan_id'));
      status[i] = st; memberLevel[i] = ml; prepaid[i] = balance;
      activation[i] = dates[0]!; since[i] = dates[1]!;
      return true;
    };
  });
  const n = ids.length;
  return {
    table: {
      n, ids, index, msisdn, name, region, managerId, planId,
      status: status.slice(0, n), memberLevel: memberLevel.slice(0, n),
      prepaidBalance: prepaid.slice(0, n), activationDate: activation.slice(0, n), statusSince: since.slice(0, n),
    },
    stats,
  };
}
