export function setup() {}
export function teardown() {}
