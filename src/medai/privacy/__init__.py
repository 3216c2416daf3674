"""Privacy: de-identification of clinical notes (English, Chinese) and DICOM headers."""
