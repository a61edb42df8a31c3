// Counting the documents of a YAML stream without YAML::LoadAll, which never returns on some input.
#pragma once

#include <yaml-cpp/mark.h>

#include <cstddef>
#include <optional>
#include <string_view>

namespace rtmpt::config {

struct DocumentScan {
    std::size_t count = 0;
    std::optional<YAML::Mark> second;  // the top node of the second document, when there is one
    // Where yaml-cpp stopped making progress: a token it can neither parse nor reject. yaml-cpp 0.7
    // (Debian 12) turns a stray ',' outside a flow collection into an endless run of empty
    // documents (upstream issue #1040), so LoadAll loops until memory runs out.
    std::optional<YAML::Mark> stuck_at;
};

// Walks every document of `yaml` through yaml-cpp's event parser. Throws YAML::Exception on
// malformed input, like YAML::Load.
[[nodiscard]] DocumentScan scan_documents(std::string_view yaml);

}  // namespace rtmpt::config
