// The browser SDK minified with terser (installed by t/browser/install.sh
// into .cache/npm), written to .cache/sdk/*.min.js and measured: prints one
// JSON line, {"evbus.js": {"min": bytes, "gzip": bytes}, ...}, and exits 1
// when a file is 5 KB or more once minified.
//
//     node t/browser/size.mjs

import {createRequire} from "node:module";
import {mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {gzipSync} from "node:zlib";

const repo = new URL("../../", import.meta.url);
const npm = process.env.EVBUS_NPM_DIR || new URL(".cache/npm/", repo).pathname;
const {minify} = createRequire(npm + "/")("terser");
const out = new URL(".cache/sdk/", repo);
const limit = 5 * 1024;
const sizes = {};
let rc = 0;

mkdirSync(out, {recursive: true});

for (const [name, module] of [["evbus.js", true], ["evbus.global.js", false]]) {
    const src = readFileSync(new URL("sdk/js/" + name, repo), "utf8");
    const min = (await minify(src, {module, compress: {passes: 2},
                                    mangle: true})).code;

    writeFileSync(new URL(name.replace(/\.js$/, ".min.js"), out), min);
    sizes[name] = {min: Buffer.byteLength(min),
                   gzip: gzipSync(min, {level: 9}).length};

    if (sizes[name].min >= limit) {
        rc = 1;
    }
}

console.log(JSON.stringify(sizes));
process.exit(rc);
