from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Suppression",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("address", models.EmailField(max_length=254, unique=True)),
                ("reason", models.CharField(max_length=32)),
                ("message_id", models.CharField(max_length=128)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
