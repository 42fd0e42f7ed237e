#include "pipeline_at.hpp"

#include "limits.hpp"

namespace mesh::ci {

PipelineAt read_pipeline(GitRepos& git, const std::string& repo, const std::string& sha) {
  PipelineAt out;
  auto text = git.read_file(repo, sha, std::string(kPipelinePath), limits::kPipelineBytes);
  if (!text) {
    out.present = true;
    out.error = "cannot read " + std::string(kPipelinePath) + ": " + text.error().message;
    return out;
  }
  if (!text->has_value()) return out;
  out.present = true;
  PipelineParse parse = parse_pipeline(**text);
  if (parse.pipeline) {
    out.pipeline = std::move(parse.pipeline);
  } else {
    out.error = parse.reason.empty() ? "mesh-ci.yml does not parse" : parse.reason;
  }
  return out;
}

}  // namespace mesh::ci
