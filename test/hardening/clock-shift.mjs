// Loaded with `node --import` by the rerun tests: moves the wall clock by
// CW_CLOCK_SHIFT_MS milliseconds (Date.now() and `new Date()`), to show that the
// outputs do not depend on it.
const shift = Number(process.env.CW_CLOCK_SHIFT_MS ?? '0');
const RealDate = Date;
class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + shift);
    else super(...args);
  }
  static now() {
    return RealDate.now() + shift;
  }
}
globalThis.Date = ShiftedDate;
