// The file-level entry points: reading the file and formatting errors. Parsing is in loader.cpp.
#include "config/config.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "config/units.hpp"

namespace rtmpt::config {
namespace {

// A config file is a few KiB; the cap stops "-c /dev/zero" or a wrong multi-GB path from eating memory.
constexpr std::size_t kMaxFileBytes = 1024 * 1024;

struct CloseFile {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

[[nodiscard]] LoadResult file_error(const std::string& path, std::string message) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, 0, "", std::move(message)});
    return result;
}

}  // namespace

std::string format_error(const ConfigError& e) {
    std::string out = e.file;
    if (e.line > 0) out += ":" + std::to_string(e.line);
    out += ": ";
    // Keys come from the file as written: escape them so an error stays one printable line.
    if (!e.key.empty()) out += escaped(e.key) + ": ";
    out += e.message;
    return out;
}

LoadResult load_file(const std::string& path) {
    try {
        errno = 0;
        const std::unique_ptr<std::FILE, CloseFile> file(std::fopen(path.c_str(), "rb"));
        if (!file) return file_error(path, std::string("cannot open: ") + std::strerror(errno));
        std::string text;
        char buf[8192];
        while (true) {
            const std::size_t n = std::fread(buf, 1, sizeof buf, file.get());
            text.append(buf, n);
            if (text.size() > kMaxFileBytes) {
                return file_error(path, "file is larger than " + format_size(kMaxFileBytes) +
                                            "; is it really a config file?");
            }
            if (n < sizeof buf) break;
        }
        if (std::ferror(file.get()))
            return file_error(path, std::string("cannot read: ") + std::strerror(errno));
        return load_string(text, path);
    } catch (const std::exception& e) {
        return file_error(path, std::string("cannot load: ") + e.what());
    }
}

std::optional<proto::ProxyVersion> backend_proxy_version(const BackendConfig& backend) {
    if (backend.proxy_protocol == "v1") return proto::ProxyVersion::v1;
    if (backend.proxy_protocol == "v2") return proto::ProxyVersion::v2;
    return std::nullopt;
}

}  // namespace rtmpt::config
