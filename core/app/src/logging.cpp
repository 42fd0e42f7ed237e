#include "logging.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "mesh/base/files.hpp"

namespace mesh::app {

Status setup_logging(const std::filesystem::path& log_file, const config::LogConfig& cfg,
                     bool to_stderr) {
  if (auto st = ensure_dir(log_file.parent_path()); !st) return st;
  try {
    std::vector<spdlog::sink_ptr> sinks;
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        log_file.string(), cfg.max_file_bytes, cfg.max_files));
    if (to_stderr) sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    auto logger = std::make_shared<spdlog::logger>("mesh", sinks.begin(), sinks.end());
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
    set_log_level(cfg.level);
  } catch (const spdlog::spdlog_ex& e) {
    return make_error(Errc::io, std::string("cannot open the log: ") + e.what());
  }
  return {};
}

void log_error_to_file(const std::string& message) {
  auto logger = spdlog::default_logger();
  if (!logger || logger->name() != "mesh") return;  // still spdlog's console default
  std::vector<spdlog::sink_ptr> files;
  for (const auto& sink : logger->sinks()) {
    if (std::dynamic_pointer_cast<spdlog::sinks::rotating_file_sink_mt>(sink))
      files.push_back(sink);
  }
  if (files.empty()) return;
  spdlog::logger file_only("mesh", files.begin(), files.end());
  file_only.set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  file_only.error("{}", message);
  file_only.flush();
}

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace mesh::app
