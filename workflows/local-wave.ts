// Local waves: the outcomes of local attempts that ran at the same time, delivered together.
//
// A replay delivers recorded local-activity results in other batches than the first execution met them:
// it resolves every recorded result whose activity is scheduled at once, in the order of the markers. So
// nothing a run decides may depend on which of the results of attempts running together have come. An
// attempt that starts while any local attempt is unresolved joins the open wave; a resolved attempt's
// outcome is held; when the last attempt of the wave resolves (or is abandoned), the held outcomes are
// delivered in the order the attempts started. Pure bookkeeping: no workflow API, no Node.

/** A member of a wave: what the wave knows of one local attempt. */
export interface WaveMember {
  /** The attempt has joined a wave and has neither resolved nor been abandoned. */
  open: boolean;
  /** The attempt's place among the run's local attempts: the order its wave delivers outcomes in. */
  order: number;
}

export class LocalWave {
  /** Members of the open wave whose attempt has neither resolved nor been abandoned. */
  #open = 0;
  /** Attempts that joined so far: each one's place in its wave's delivery order. */
  #joined = 0;
  /** Outcomes of the open wave's resolved attempts, delivered when the wave drains. */
  readonly #held: { order: number; deliver: () => void }[] = [];

  /** Whether a wave is open (some local attempt that joined one is unresolved). */
  get isOpen(): boolean {
    return this.#open > 0;
  }

  /** An attempt starts: it joins the open wave, or opens one. */
  join(): WaveMember {
    this.#open++;
    return { open: true, order: this.#joined++ };
  }

  /**
   * The attempt's activity resolved: `deliver` runs when the wave drains (now, when this was its last
   * unresolved member), or at once when the attempt no longer holds a wave open (it was abandoned).
   */
  resolved(member: WaveMember, deliver: () => void): void {
    if (!member.open) {
      deliver();
      return;
    }
    member.open = false;
    this.#held.push({ order: member.order, deliver });
    if (--this.#open === 0) this.#drain();
  }

  /** The attempt was abandoned (its outcome was delivered already): it no longer holds its wave open. */
  left(member: WaveMember): void {
    if (!member.open) return;
    member.open = false;
    if (--this.#open === 0) this.#drain();
  }

  /** Delivers a drained wave's outcomes, in the order their attempts started. */
  #drain(): void {
    const held = this.#held.splice(0).sort((a, b) => a.order - b.order);
    for (const h of held) h.deliver();
  }
}
