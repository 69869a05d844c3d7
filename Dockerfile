# Production image for web, worker and beat (see docker-compose.yml).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only-key-build-only-key-build-only-key-build-only DEBUG=0 python manage.py collectstatic --noinput
RUN useradd --create-home portal && chown -R portal /app
USER portal
EXPOSE 8000
CMD ["uvicorn", "pdportal.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--proxy-headers"]
