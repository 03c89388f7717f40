from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Deployment",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "verbose_name": "Live deployment",
                "verbose_name_plural": "Live deployment",
                "permissions": [("operate", "Can see and operate Socket.IO")],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
