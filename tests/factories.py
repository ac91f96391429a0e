"""factory_boy factories. Tickets are made through board.services so that
ranks, numbers and history are as real as the app's own."""

import factory
from django.contrib.auth import get_user_model

from board import services
from board.models import Board, Label, Membership

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-for-tests")


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    name = factory.Sequence(lambda n: f"label{n}")
    color = "#1f7a8c"


def make_board(owner, *, name="ML board", template=Board.Template.ML_SPRINT, members=(), viewers=()) -> Board:
    board = services.board_create(user=owner, name=name, template=template)
    for user in members:
        Membership.objects.create(board=board, user=user, role=Membership.Role.MEMBER)
    for user in viewers:
        Membership.objects.create(board=board, user=user, role=Membership.Role.VIEWER)
    return board


def make_ticket(board, actor, *, title="A ticket", column=None, **fields):
    data = services.TicketInput(title=title, **fields)
    return services.ticket_create(board=board, actor=actor, data=data, column=column)
