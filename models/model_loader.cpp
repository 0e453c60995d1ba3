// TextModel::load without libtorch: checks the directory, then opens the
// TorchScript plugin once per process and lets it build the model.
#include <dlfcn.h>

#include <mutex>

#include "models/model.hpp"
#include "models/torch_plugin.hpp"

namespace socstream {

namespace {

// Where the plugin is: $SOCSTREAM_TORCH_PLUGIN, next to the executable, in
// ../lib/socstream/ for an installed tree, and the build tree's copy (tests and
// benchmarks run from sub-directories of it).
std::vector<std::filesystem::path> plugin_candidates() {
  std::vector<std::filesystem::path> c;
  if (const char* env = std::getenv("SOCSTREAM_TORCH_PLUGIN"); env && *env) c.emplace_back(env);
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    c.push_back(self.parent_path() / kTorchPluginFile);
    c.push_back(self.parent_path().parent_path() / "lib/socstream" / kTorchPluginFile);
  }
#ifdef SOCSTREAM_TORCH_PLUGIN_BUILT
  c.emplace_back(SOCSTREAM_TORCH_PLUGIN_BUILT);
#endif
  return c;
}

TorchPluginLoad* open_plugin() {
  static std::mutex m;
  static TorchPluginLoad* load = nullptr;
  std::lock_guard lk(m);
  if (load) return load;
  std::string tried;
  for (const auto& p : plugin_candidates()) {
    if (!std::filesystem::exists(p)) {
      tried += "\n  " + p.string() + ": not found";
      continue;
    }
    // RTLD_LOCAL keeps libtorch's symbols out of the global namespace; the
    // handle is never closed (libtorch does not support unloading).
    void* h = ::dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      tried += "\n  " + p.string() + ": " + ::dlerror();
      continue;
    }
    if (auto* f = reinterpret_cast<TorchPluginLoad*>(::dlsym(h, kTorchPluginSymbol))) {
      load = f;
      return load;
    }
    tried += "\n  " + p.string() + ": no symbol " + kTorchPluginSymbol;
  }
  throw ModelError(std::string("cannot load the TorchScript plugin ") + kTorchPluginFile +
                   " (set SOCSTREAM_TORCH_PLUGIN to its path); tried:" + tried);
}

}  // namespace

std::unique_ptr<TextModel> TextModel::load(const std::filesystem::path& dir) { return load(read_model_info(dir)); }

std::unique_ptr<TextModel> TextModel::load(const ModelInfo& info) {
  verify_weights(info);
  TorchPluginLoad* load = open_plugin();
  std::string error;
  std::unique_ptr<TextModel> model(load(info, error));
  if (!model) throw ModelError(error);
  return model;
}

}  // namespace socstream
