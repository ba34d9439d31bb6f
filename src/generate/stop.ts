// TEMPORARY placeholder until the sampling branch lands
export class StopStringMatcher {
  private held = '';
  constructor(private readonly stops: readonly string[]) {}
  push(text: string): { emit: string; stopped: boolean; stop?: string } {
    const all = this.held + text;
    for (const s of this.stops) {
      const i = all.indexOf(s);
      if (i >= 0) { this.held = ''; return { emit: all.slice(0, i), stopped: true, stop: s }; }
    }
    let keep = 0;
    for (const s of this.stops) for (let k = Math.min(s.length - 1, all.length); k > keep; k--) if (s.startsWith(all.slice(all.length - k))) { keep = k; break; }
    this.held = all.slice(all.length - keep);
    return { emit: all.slice(0, all.length - keep), stopped: false };
  }
  flush(): string { const h = this.held; this.held = ''; return h; }
}
