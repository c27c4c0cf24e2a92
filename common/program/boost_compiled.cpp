// Asio's and Beast's non-template code, compiled once for every program and
// test: netlab::options defines BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION, so the files that include them only
// declare it (cmake/ProjectOptions.cmake). Asio SSL's part is in tls/asio_ssl.cpp,
// which only the programs that use OpenSSL link.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
