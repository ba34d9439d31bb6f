// TEMPORARY placeholder until the sampling branch lands
export class IncrementalDetokenizer {
  private ids: number[] = [];
  private printed = '';
  constructor(private readonly decode: (ids: readonly number[]) => string, _prompt?: readonly number[]) {}
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.ids);
    if (text.endsWith('\uFFFD') || !text.startsWith(this.printed)) return '';
    const out = text.slice(this.printed.length);
    this.printed = text;
    return out;
  }
  flush(): string {
    const text = this.decode(this.ids);
    const out = text.startsWith(this.printed) ? text.slice(this.printed.length) : '';
    this.printed = text;
    return out;
  }
}
