// Asio SSL's non-template code, compiled once (BOOST_ASIO_SEPARATE_COMPILATION,
// see program/boost_compiled.cpp): only what links netlab::tls needs it.
#include <boost/asio/ssl/impl/src.hpp>
