import type { Stage } from './stage';

/** One line of the targets table in the report. */
export interface ReportRow {
  measure: string;
  /** The target, or '(informational)'. */
  target: string;
  measured: string;
  /** Whether the target was met; undefined for informational rows. */
  met?: boolean | undefined;
}

export interface SectionOutcome {
  /** Stored under the section's key in bench/results.json. */
  results: unknown;
  rows: ReportRow[];
  /** Lines printed under the tables. */
  details: string[];
}

/**
 * A part of the benchmark with its own measurements. bench/run.ts runs the sections in its `sections`
 * list one after another, after the local-host measurements, and puts what each returns into
 * results.json and the report: a new measurement is a new file exporting a section, plus one line there.
 */
export interface BenchSection {
  /** Its key in bench/results.json. */
  key: string;
  run(stage: Stage): Promise<SectionOutcome>;
}
