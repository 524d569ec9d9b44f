from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0003_executionresult_traceback_text"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="scheduledtask",
            options={
                "permissions": [
                    ("run_maintenance_skills", "Can schedule and run maintenance skills")
                ]
            },
        ),
    ]
