// libFuzzer target: the .mesh/mesh-ci.yml parser. Beyond not crashing (and not looping on
// aliases), a pipeline it accepts must keep the promises the rest of the plugin relies on, and
// a refusal must come with a bounded reason; a violation traps.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

// By path: the replication plugin has a names.hpp and the issues plugin a limits.hpp, both
// earlier on the include path.
#include "../../plugins/ci/src/limits.hpp"
#include "../../plugins/ci/src/names.hpp"
#include "pipeline.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mesh::ci;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  PipelineParse r = parse_pipeline(text);
  if (!r.pipeline) {
    check(!r.errors.empty() && !r.reason.empty());
    check(r.reason.size() <= limits::kReasonBytes);
    check(r.errors.size() <= limits::kErrors);
    return 0;
  }
  const Pipeline& p = *r.pipeline;
  check(r.errors.empty() && r.reason.empty());
  check(!p.jobs.empty() && p.jobs.size() <= limits::kJobs);
  check(valid_pipeline_name(p.name));
  check(p.dag.size() == p.jobs.size() && p.dag.order().size() == p.jobs.size());
  std::set<std::string> names;
  for (const auto& j : p.jobs) {
    check(valid_job_name(j.name) && valid_mode(j.mode));
    check(names.insert(j.name).second);
    check(!j.commands.empty() && j.commands.size() <= limits::kCommands);
    check(j.timeout_ms > 0 && j.timeout_ms <= limits::kMaxTimeoutMs);
    check(j.image.empty() || (valid_image(j.image) && j.image.front() != '-'));
    check(j.mode != "docker" || !j.image.empty());
    check(j.env.size() <= limits::kEnvEntries && j.secrets.size() <= limits::kJobSecrets);
    for (const auto& s : j.secrets) check(valid_secret_name(s));
    for (const auto& [k, v] : j.env)
      check(valid_env_name(k) && k != "CI" && !k.starts_with("MESH_"));
  }
  // Dependencies come first in the order.
  std::set<std::size_t> done;
  for (auto i : p.dag.order()) {
    for (auto n : p.dag.needs(i)) check(done.count(n) == 1);
    done.insert(i);
  }
  for (const auto& s : p.on.schedules) {
    check(s.job.empty() || p.job(s.job) != nullptr);
    check(s.cron.next_after(1'700'000'000).has_value());
  }
  return 0;
}
