#include "error.hpp"

#include <cstring>

namespace lockc {

void throw_system(const std::string &what, int err) {
    throw Error(ErrorKind::System, what + ": " + std::strerror(err));
}

} // namespace lockc
