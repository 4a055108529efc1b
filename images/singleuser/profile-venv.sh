# /etc/profile.d/dlcourse-venv.sh: the image's Python environment (nbgrader, dl-grader,
# jupyter, python with the course library) first on PATH in login shells too.
# JupyterLab's terminals run `bash -l`, and Debian's /etc/profile replaces the PATH the
# container started with (ENV PATH=/opt/venv/bin:...), so without this a terminal finds
# neither `nbgrader` nor `dl-grader`.
case ":${PATH}:" in
  *:/opt/venv/bin:*) ;;
  *) PATH="/opt/venv/bin:${PATH}"; export PATH ;;
esac
