from django.db import migrations, models

import brain.validators


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_agent_name_unique_ignoring_case"),
    ]

    operations = [
        migrations.AddField(
            model_name="executionresult",
            name="traceback_text",
            field=models.TextField(
                blank=True,
                default="",
                editable=False,
                validators=[brain.validators.validate_storable_text],
            ),
        ),
    ]
