// What generated clients build on: struct accessors (and, as they land, typed devices and queues).
export { StructView } from "./struct-view.ts";
