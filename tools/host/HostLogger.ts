import type { RpcLogLevel } from './functionsCoreTypes';

export interface HostOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const severity: Record<RpcLogLevel, number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
  none: 6,
};

export interface HostLoggerOptions {
  output: HostOutput;
  /** `logging.logLevel` from host.json: dotted categories, most specific wins, then `default`. */
  logLevels?: Record<string, RpcLogLevel>;
  /** Show debug logs of every category. */
  verbose?: boolean;
}

/**
 * Writes host, worker and function logs as timestamped lines like Core Tools does: warnings and errors
 * to stderr, everything else to stdout, filtered by host.json's `logging.logLevel`.
 */
export class HostLogger {
  #output: HostOutput;
  #logLevels: Record<string, RpcLogLevel>;
  #verbose: boolean;
  /** Resolved levels: categories are few (one per function and kind), logs are many. */
  #levelByCategory = new Map<string, RpcLogLevel>();

  constructor(options: HostLoggerOptions) {
    this.#output = options.output;
    this.#logLevels = options.logLevels ?? {};
    this.#verbose = options.verbose ?? false;
  }

  /** Writes `message` under `category` (for example `Function.getModel.User` or `Host.Startup`). */
  log(level: RpcLogLevel, category: string, message: string): void {
    if (level === 'none' || severity[level] < severity[this.#minimumLevel(category)]) {
      return;
    }
    const line = `[${new Date().toISOString()}] ${message}\n`;
    if (severity[level] >= severity.warning) {
      this.#output.stderr(line);
    } else {
      this.#output.stdout(line);
    }
  }

  /** Writes text as is (banners, the function list), bypassing levels. */
  print(text: string): void {
    this.#output.stdout(text.endsWith('\n') ? text : `${text}\n`);
  }

  #minimumLevel(category: string): RpcLogLevel {
    if (this.#verbose) {
      return 'debug';
    }
    let level = this.#levelByCategory.get(category);
    if (level === undefined) {
      level = this.#configuredLevel(category);
      this.#levelByCategory.set(category, level);
    }
    return level;
  }

  #configuredLevel(category: string): RpcLogLevel {
    const parts = category.split('.');
    for (let length = parts.length; length > 0; length -= 1) {
      const level = this.#logLevels[parts.slice(0, length).join('.')];
      if (level) {
        return level;
      }
    }
    return this.#logLevels.default ?? 'information';
  }
}
