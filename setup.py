"""ament_python package definition of mot_ros."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "mot_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        ("share/" + PACKAGE + "/launch", glob("launch/*.launch.py")),
        ("share/" + PACKAGE + "/config", glob("config/*.yaml") + glob("config/*.xml")),
        ("share/" + PACKAGE + "/models", glob("models/*.pt")),
    ],
    package_data={PACKAGE: ["py.typed"]},
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="mot_ros maintainers",
    maintainer_email="maintainers@mot-ros.dev",
    description="Persistent multi-object tracking for ROS 2: YOLOv8 detection + DeepSORT, vision_msgs output.",
    license="AGPL-3.0-only",
    entry_points={
        "console_scripts": [
            "tracker_node = mot_ros.ros.tracker_node:main",
            "mot_track = mot_ros.tools.mot_track:main",
            "mot_demo = mot_ros.tools.demo:main",
            "bag_replay = mot_ros.ros.bag_replay:main",
        ],
    },
)
