// The emergency alert: a short two-tone sound made with Web Audio (no audio file to load), mutable.

const STORAGE_KEY = "opendispatch.muted";

export class Alarm {
  constructor(button) {
    this.button = button;
    this.context = null;
    this.muted = localStorage.getItem(STORAGE_KEY) === "1";
    this.raised = 0;
    this.played = 0;
    this._show();
    // Browsers only let a page make sound after the user has interacted with it.
    const unlock = () => {
      this._context();
      window.removeEventListener("pointerdown", unlock);
      window.removeEventListener("keydown", unlock);
    };
    window.addEventListener("pointerdown", unlock);
    window.addEventListener("keydown", unlock);
  }

  toggle() {
    this.muted = !this.muted;
    localStorage.setItem(STORAGE_KEY, this.muted ? "1" : "0");
    this._show();
  }

  /** A new emergency call came in: sound unless muted (counted either way, for the page to show). */
  raise() {
    this.raised += 1;
    document.body.dataset.alerts = String(this.raised);
    if (this.muted) return;
    const context = this._context();
    if (!context) return;
    const start = context.currentTime + 0.01;
    [880, 660, 880].forEach((frequency, index) => {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "square";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + index * 0.22);
      gain.gain.exponentialRampToValueAtTime(0.12, start + index * 0.22 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + index * 0.22 + 0.2);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start + index * 0.22);
      oscillator.stop(start + index * 0.22 + 0.21);
    });
    this.played += 1;
    document.body.dataset.alertsPlayed = String(this.played);
  }

  _context() {
    if (!this.context && window.AudioContext) {
      try {
        this.context = new AudioContext();
      } catch {
        this.context = null;
      }
    }
    if (this.context?.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  _show() {
    this.button.textContent = this.muted ? "Alert muted" : "Alert on";
    this.button.setAttribute("aria-pressed", this.muted ? "true" : "false");
  }
}
