#pragma once

#include <filesystem>

#include "mesh/base/result.hpp"
#include "mesh/config/config.hpp"

namespace mesh::app {

// Installs the daemon's logger (the one global the app owns): a size-rotated file under
// <root>/logs, plus stderr when running in the foreground.
Status setup_logging(const std::filesystem::path& log_file, const config::LogConfig& cfg,
                     bool to_stderr);
void set_log_level(const std::string& level);

}  // namespace mesh::app
