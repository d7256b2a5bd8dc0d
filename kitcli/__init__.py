"""The kit's command line: doctor, images, build, test."""
