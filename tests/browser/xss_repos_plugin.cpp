// xss-repos: a test plugin that answers the `repos` verb (which the node page asks for) with
// repo, ref and divergence data full of script payloads, so the browser test can check that the
// page renders every one of them as inert text. Built with the public SDK like any plugin.
#include <string>

#include "mesh/plugin.hpp"

namespace {

// Every payload sets window.__xss or opens a dialog if it ever runs.
constexpr const char* kRepos = R"json([
  {"name": "<script>window.__xss='repo';alert('repo')</script>",
   "refs": {
     "refs/heads/<img src=x onerror=\"window.__xss='ref';alert('ref')\">": "\"><svg onload=alert('oid')>",
     "refs/tags/javascript:alert('tag')": "0123456789abcdef0123456789abcdef01234567"
   },
   "divergences": [
     {"ref": "refs/heads/<b onmouseover=alert('div-ref')>x</b>",
      "node": "<iframe src=\"javascript:alert('div-node')\"></iframe>",
      "node_id": "mesh:x",
      "oid": "'><script>alert('div-oid')</script>",
      "parked_as": "refs/mesh/diverged/\"><img src=x onerror=\"window.__xss='parked'\">",
      "resolve": "javascript:alert('resolve')//' onclick='alert(\"resolve2\")",
      "discard": "</code><script>window.__xss='discard'</script>"}
   ]},
  {"name": "javascript:alert('name')", "refs": {}, "divergences": []}
])json";

class XssRepos : public mesh::sdk::Plugin {
 public:
  void start() override {
    verb("repos", "hostile repo data for the browser tests",
         [](const mesh::sdk::CliRequest& c) { c.reply(0, kRepos); });
  }
};

}  // namespace

MESH_PLUGIN(XssRepos, "xss-repos", "1.0.0");
