// How a fuzz driver reports a broken property: one line naming the driver and the property, then
// abort(), so that libFuzzer keeps the input as a finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace rtmpt::fuzz {

[[noreturn]] inline void property_violated(const char* driver, const std::string& what) {
    std::fprintf(stderr, "%s: property violated: %s\n", driver, what.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace rtmpt::fuzz

// Checks a property through the driver's own fail(). The message is built only when the property
// fails: building it on every check would cost more than the code under test.
#define REQUIRE(ok, what)      \
    do {                       \
        if (!(ok)) fail(what); \
    } while (false)
