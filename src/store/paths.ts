/** The embedded default database file (its own module, so the CLI can name it without loading SQLite). */
export const DEFAULT_DB = './intentguard.db';
