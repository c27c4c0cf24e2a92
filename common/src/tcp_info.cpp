// implemented by the census work
