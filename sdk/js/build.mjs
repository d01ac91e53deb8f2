// Writes evbus.global.js, the <script> tag build, from the ES module
// evbus.js: the same code in a function that sets window.evbus instead
// of exporting.  `node sdk/js/build.mjs --check` only says whether
// evbus.global.js is up to date (exit 1 when not); the browser test runs it.

import {readFileSync, writeFileSync} from "node:fs";

const dir = new URL(".", import.meta.url);
const src = readFileSync(new URL("evbus.js", dir), "utf8");

const end = src.indexOf(" */\n") + 4;
const exports = /^export \{([^}]*)\};\nexport default \{\1\};\n$/m;
const names = src.match(exports);

if (!src.startsWith("/*") || end < 4 || !names) {
    console.error("build.mjs: evbus.js must open with a comment and end"
                  + " with export {...}; export default {...};");
    process.exit(2);
}

const out = src.slice(0, end)
    + "\n/* generated from evbus.js by build.mjs: edit that file */\n\n"
    + "(function () {\n\"use strict\";\n"
    + src.slice(end).replace(exports, "globalThis.evbus = {$1};\n")
    + "})();\n";

const file = new URL("evbus.global.js", dir);

if (process.argv.includes("--check")) {
    let old = "";

    try {
        old = readFileSync(file, "utf8");
    } catch (e) {
        // missing: not up to date
    }

    if (old !== out) {
        console.error("sdk/js/evbus.global.js is not up to date with"
                      + " evbus.js: run node sdk/js/build.mjs");
        process.exit(1);
    }

} else {
    writeFileSync(file, out);
}
