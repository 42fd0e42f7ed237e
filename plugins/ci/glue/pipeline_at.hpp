// .mesh/mesh-ci.yml as read at one commit of a mirror: the pipeline is always the one of the
// commit being built, never of a branch tip or a worktree.
#pragma once

#include <optional>
#include <string>

#include "git_repos.hpp"
#include "pipeline.hpp"

namespace mesh::ci {

struct PipelineAt {
  bool present = false;  // the commit has the file
  std::optional<Pipeline> pipeline;
  std::string error;  // present but unusable: the run's failure reason
};

// Call without the glue's lock held where possible: it reads git.
PipelineAt read_pipeline(GitRepos& git, const std::string& repo, const std::string& sha);

}  // namespace mesh::ci
