// The parts of rxjs intentguard uses, each from its own module. rxjs's package entry (its CommonJS
// build, the one Node is given) loads all of its ≈ 220 files, every operator included: a fifth of a
// stdio proxy's start-up. Types may still come from 'rxjs' (type imports load nothing). The build
// replaces the compiled dist/lib/rx.js by one file of these parts from rxjs's ES module build
// (scripts/post-build.ts): every import of rxjs in src/ goes through here, so dist/ holds one copy.
export { Observable } from 'rxjs/internal/Observable';
export { Subject } from 'rxjs/internal/Subject';
export { asapScheduler } from 'rxjs/internal/scheduler/asap';
export { firstValueFrom } from 'rxjs/internal/firstValueFrom';
export { from } from 'rxjs/internal/observable/from';
export { race } from 'rxjs/internal/observable/race';
export { timer } from 'rxjs/internal/observable/timer';
export { map } from 'rxjs/internal/operators/map';
